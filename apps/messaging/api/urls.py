from django.urls import path

from apps.messaging.api import views

urlpatterns = [
    path("messages/send", views.MessageSendView.as_view(), name="message-send"),
    path("messages/bulk", views.MessageBulkView.as_view(), name="message-bulk"),
    path("messages", views.MessageListView.as_view(), name="messages"),
    path("messages/<id:message_id>", views.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<id:message_id>/cancel", views.MessageCancelView.as_view(), name="message-cancel"),
    path("messages/<id:message_id>/conversion", views.MessageConversionView.as_view(), name="message-conversion"),
    path("verify/<code:code>", views.VerifyView.as_view(), name="verify"),
]
