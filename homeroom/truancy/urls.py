"""Routes of the truancy escalation pages."""

from django.urls import path

from homeroom.truancy import views

app_name = "truancy"
urlpatterns = [
    path("truancy/", views.queue, name="queue"),
    path("truancy/steps/<int:step_id>/", views.step_page, name="step"),
    path("truancy/steps/<int:step_id>/approve/", views.approve, name="approve"),
    path("truancy/steps/<int:step_id>/decline/", views.decline, name="decline"),
    path("truancy/steps/<int:step_id>/meeting/", views.meeting, name="meeting"),
    path("truancy/documents/<int:document_id>/", views.document, name="document"),
    path("truancy/pack/", views.pack_page, name="pack"),
]
