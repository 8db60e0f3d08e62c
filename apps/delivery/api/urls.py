from django.urls import path

from apps.delivery.api import views

# The phone's two hottest requests (a batch of acknowledgements, a batch of reports: ~1.9 of a message's ~2.7
# requests), included by the project's URLs right after the client's send path: Django tries patterns in order, and
# the ~50 before them here cost each of these requests more than the rest of its routing. Literal paths that no
# other pattern matches, so the order changes no route.
phone_urlpatterns = [
    path("jobs/ack", views.JobAckBatchView.as_view(), name="job-ack-batch"),
    path("jobs/reports", views.JobReportBatchView.as_view(), name="job-reports"),
]

urlpatterns = [
    path("providers/me/jobs", views.ProviderJobsView.as_view(), name="provider-jobs"),
    path("providers/me/inbound", views.ProviderInboundView.as_view(), name="provider-inbound"),
    path("jobs/<id:job_id>", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<id:job_id>/ack", views.JobAckView.as_view(), name="job-ack"),
    path("jobs/<id:job_id>/report", views.JobReportView.as_view(), name="job-report"),
    path("audit/inbound", views.AuditInboundView.as_view(), name="audit-inbound"),
]
