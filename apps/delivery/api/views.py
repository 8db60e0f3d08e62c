"""The phone's jobs API (JWT of the provider): poll offered jobs, acknowledge one, read it."""

import hashlib

from django.utils.http import quote_etag
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ValidationFailed
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job
from apps.messaging.selectors import job_of_provider, jobs_offered_to
from apps.messaging.services import job_accept


class OfferedJobOutput(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "offered_at", "deadline"]


class JobOutput(serializers.Serializer):
    """What the phone needs to send the SMS, and nothing about the client."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    message_id = serializers.IntegerField()
    to = serializers.CharField(source="message.to")
    body = serializers.CharField(source="message.body")
    encoding = serializers.CharField(source="message.encoding")
    segments = serializers.IntegerField(source="message.segments")
    deadline = serializers.DateTimeField()
    trace_token = serializers.CharField(help_text="Sign delivery reports over this token.")


class ProviderJobsView(APIView):
    """The pull fallback: cheap to poll (one indexed query) and answered 304 while nothing changed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("status", enum=[JobStatus.OFFERED], default=JobStatus.OFFERED)],
        responses={200: OfferedJobOutput(many=True), 304: None},
        tags=["jobs"],
    )
    def get(self, request: Request) -> Response:
        if request.query_params.get("status", JobStatus.OFFERED) != JobStatus.OFFERED:
            raise ValidationFailed(code="status_not_supported", details={"supported": [JobStatus.OFFERED]})
        jobs = list(jobs_offered_to(user=request.user))
        data = OfferedJobOutput(jobs, many=True).data
        fingerprint = ",".join(f"{job.pk}:{job.deadline.timestamp()}" for job in jobs)
        etag = quote_etag(hashlib.sha256(fingerprint.encode()).hexdigest()[:32])
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            return Response(status=304, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


class JobDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: JobOutput}, tags=["jobs"])
    def get(self, request: Request, job_id: int) -> Response:
        return Response(JobOutput(job_of_provider(user=request.user, job_id=job_id)).data)


class JobAckView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: JobOutput}, tags=["jobs"])
    def post(self, request: Request, job_id: int) -> Response:
        return Response(JobOutput(job_accept(job_id=job_id, user=request.user)).data)
