FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The runtime lock alone, installed by the same script as CI's production smoke stage.
COPY requirements.txt ./
COPY deploy/install.sh deploy/
RUN deploy/install.sh /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY . .
RUN SECRET_KEY=collectstatic python manage.py collectstatic --no-input \
    && useradd --system --home /app axero && mkdir -p /app/var/media /app/var/beat && chown -R axero /app/var
USER axero
EXPOSE 8000
ENV GUNICORN_BIND=0.0.0.0:8000
CMD ["gunicorn", "axero_idp.wsgi"]
