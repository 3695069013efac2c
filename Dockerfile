FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 cms

WORKDIR /app
COPY pyproject.toml README.md ./
COPY cms ./cms
COPY content ./content
RUN pip install --no-cache-dir . \
 && cms decap install \
 && mkdir -p /data/instance && chown -R cms:cms /data /app

USER cms
ENV CMS_INSTANCE=/data/instance \
    PYTHONUNBUFFERED=1
# Mount the content repository at /data/site and set CMS_REPO=/data/site, or leave CMS_REPO
# unset to serve the sample site seeded into /data/instance/site.
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", \
     "--worker-class", "cms.serving.Worker", "--limit-request-line", "8190", \
     "--no-control-socket", "cms:create_app()"]
