from django.urls import path

from apps.delivery.api import views

urlpatterns = [
    path("providers/me/jobs", views.ProviderJobsView.as_view(), name="provider-jobs"),
    path("providers/me/inbound", views.ProviderInboundView.as_view(), name="provider-inbound"),
    path("jobs/<id:job_id>", views.JobDetailView.as_view(), name="job-detail"),
    path("jobs/ack", views.JobAckBatchView.as_view(), name="job-ack-batch"),
    path("jobs/<id:job_id>/ack", views.JobAckView.as_view(), name="job-ack"),
    path("jobs/<id:job_id>/report", views.JobReportView.as_view(), name="job-report"),
    path("jobs/reports", views.JobReportBatchView.as_view(), name="job-reports"),
    path("audit/inbound", views.AuditInboundView.as_view(), name="audit-inbound"),
]
