# The CMS in a container: `cms serve` (gunicorn) as a non-root user.
#
#   docker build -t cms .
#   docker run -p 8000:8000 cms                                   # the sample site
#   docker run -p 8000:8000 -v /srv/site:/data/site -e CMS_REPO=/data/site \
#     --user "$(stat -c %u /srv/site)" cms                        # your site's repository
#
# BASE may be any image with python3 (3.11+), its venv module and git: `scripts/container.sh`
# builds it on a local Debian root file system.
ARG BASE=python:3.11-slim
FROM ${BASE}

RUN if ! command -v git >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends git \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && useradd --create-home --uid 10001 cms \
 && python3 -m venv /opt/venv

WORKDIR /app
# The dependencies first, in a layer of their own: a change of the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY cms ./cms
COPY content ./content
# The editor's app (Decap CMS, pinned and integrity-checked), fetched once at build time.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
 && /opt/venv/bin/cms decap install \
 && mkdir -p /data/instance /data/site && chown -R cms:cms /data /app

USER cms
ENV PATH=/opt/venv/bin:$PATH \
    CMS_INSTANCE=/data/instance \
    CMS_WORKERS=2 \
    CMS_THREADS=4 \
    PYTHONUNBUFFERED=1
# /data/site: mount the content repository here and set CMS_REPO=/data/site (with CMS_REPO
# unset, the sample site is seeded into /data/instance/site). /data/instance: tokens, index,
# caches and metrics; keep it across restarts.
VOLUME ["/data/site", "/data/instance"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["cms", "serve", "--host", "0.0.0.0", "--port", "8000"]
