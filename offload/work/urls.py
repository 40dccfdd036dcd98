from django.urls import path

from offload.work import views

urlpatterns = [
    path("items/", views.work_item_list, name="work_item_list"),
    path("items/import/", views.work_items_import, name="work_items_import"),
    path("items/<int:pk>/", views.work_item_detail, name="work_item_detail"),
]
