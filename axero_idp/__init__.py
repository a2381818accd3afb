from axero_idp.celery import app as celery_app

__all__ = ["celery_app"]
