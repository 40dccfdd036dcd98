from django.urls import path

from offload.work import (
    attainment_views,
    bot_views,
    floor_views,
    views,
    webhook_views,
    workspace_views,
)

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
    path(
        "items/<int:pk>/bots/invoice-check/",
        bot_views.work_item_invoice_check,
        name="work_item_invoice_check",
    ),
    path("webhooks/", webhook_views.webhook_list, name="webhook_list"),
    path("webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook_detail"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        webhook_views.webhook_redeliver,
        name="webhook_redeliver",
    ),
    path("workspace/", workspace_views.workspace, name="workspace"),
    path("workspace/presence/", workspace_views.workspace_presence, name="workspace_presence"),
    path("workspace/next/", workspace_views.workspace_next, name="workspace_next"),
    path(
        "workspace/wrap-up/", workspace_views.workspace_wrap_up_done, name="workspace_wrap_up_done"
    ),
    path("workspace/items/<int:pk>/", workspace_views.workspace_item, name="workspace_item"),
    path(
        "workspace/items/<int:pk>/act/",
        workspace_views.workspace_item_act,
        name="workspace_item_act",
    ),
    path(
        "workspace/items/<int:pk>/heartbeat/",
        workspace_views.workspace_item_heartbeat,
        name="workspace_item_heartbeat",
    ),
    path(
        "workspace/items/<int:pk>/offer/",
        workspace_views.workspace_item_offer,
        name="workspace_item_offer",
    ),
    path("floor/", floor_views.floor, name="floor"),
    path("attainment/", attainment_views.attainment_page, name="attainment"),
]
