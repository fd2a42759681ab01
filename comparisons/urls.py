from django.urls import path

from . import views

urlpatterns = [
    path("review/", views.review_queue, name="review_queue"),
    path("review/undo/", views.review_undo, name="review_undo"),
    path("review/progress/", views.review_progress, name="review_progress"),
    path("review/recent/", views.review_recent, name="review_recent"),
    path("review/<uuid:code>/label/", views.review_label, name="review_label"),
    path("review/<uuid:code>/skip/", views.review_skip, name="review_skip"),
    path("review/adjudicate/", views.adjudication_queue, name="adjudication_queue"),
    path("review/adjudicate/<uuid:code>/", views.adjudication_pair, name="adjudication_pair"),
    path("pairs/", views.pair_list, name="pair_list"),
    path("pairs/<uuid:code>/", views.pair_detail, name="pair_detail"),
]
