from django.urls import path

from lottery import api, views

urlpatterns = [
    path("draws/", views.draw_list, name="draw-list"),
    path("draws/<str:code>/", views.draw_detail, name="draw-detail"),
    path("draws/<str:code>/kit.zip", views.draw_kit, name="draw-kit"),
    path("draws/<str:code>/files/<str:name>", views.draw_file, name="draw-file"),
    path("api/v1/draws/<str:code>/", api.DrawRecord.as_view(), name="api-draw"),
    path("api/v1/draws/<str:code>/parties/", api.PartyCreate.as_view(), name="api-draw-parties"),
    path("api/v1/draws/<str:code>/reveals/", api.RevealCreate.as_view(), name="api-draw-reveals"),
    path("api/v1/draws/<str:code>/beacon/", api.BeaconPaste.as_view(), name="api-draw-beacon"),
    path("api/v1/draws/<str:code>/review/", api.ReviewCreate.as_view(), name="api-draw-review"),
    path(
        "api/v1/appointments/<int:pk>/<str:action>/",
        api.AppointmentAction.as_view(),
        name="api-appointment-action",
    ),
]
