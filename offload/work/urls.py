from django.urls import path

from offload.work import views

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
]
