from django.urls import path

from offload.work import views, webhook_views

urlpatterns = [
    path("items/", views.work_item_list, name="work_item_list"),
    path("items/import/", views.work_items_import, name="work_items_import"),
    path("items/<int:pk>/", views.work_item_detail, name="work_item_detail"),
    path("items/<int:pk>/files/", views.work_item_attachments, name="work_item_attachments"),
    path(
        "items/<int:pk>/files/<int:attachment_id>/",
        views.work_item_attachment,
        name="work_item_attachment",
    ),
    path("webhooks/", webhook_views.webhook_list, name="webhook_list"),
    path("webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook_detail"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        webhook_views.webhook_redeliver,
        name="webhook_redeliver",
    ),
]
