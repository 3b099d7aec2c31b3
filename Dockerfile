# The bot in a container, installed and started exactly as the README's quick start says
# ("Without the scripts"): `python -m pip install .`, then `python -m bot`, as a user without
# privileges. Settings come from the environment (compose.yaml passes your .env); SQLite and
# other state live in the /data volume unless DATABASE_URL names PostgreSQL.
#
#   docker build -t imagebot .
#   docker run --env-file .env -v imagebot-data:/data --stop-timeout 90 imagebot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IMAGEBOT_DATA_DIR=/data \
    IMAGEBOT_HTTP_PORT=8080

# Fonts that draw the usage chart's labels in Cyrillic (DejaVu) and in Chinese and Japanese (Droid
# fallback); without them those labels fall back to English (bot/reports.py FONT_FILES).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-droid-fallback \
    && rm -rf /var/lib/apt/lists/*

# The checkout's package only (.dockerignore keeps .env, data and the virtual environment out).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN python -m pip install .

# Run from an empty folder, so `python -m bot` imports the installed package, not /src.
RUN useradd --system --uid 10001 --home-dir /app --create-home --shell /usr/sbin/nologin imagebot \
    && mkdir /data && chown imagebot:imagebot /data
WORKDIR /app
USER imagebot
VOLUME ["/data"]

# Inside the container, so 127.0.0.1 is right (the port stays private unless published).
# No curl in a slim image: Python's own urllib asks /healthz, which answers 503 when the bot
# has lost Discord or its database. An env file with an empty IMAGEBOT_HTTP_PORT= (as
# .env.example has) turns the port off and the container shows unhealthy: compose.yaml sets it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('IMAGEBOT_HTTP_PORT', '8080') + '/healthz', timeout=4)"]

# docker stop sends SIGTERM: running jobs get IMAGEBOT_SHUTDOWN_GRACE (60 s) to finish,
# so compose.yaml gives the container longer than that before it is killed.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
