# Image for the scaled mode (compose.yml): one image, run as web, worker, scheduler or migrate.
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm unzip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . && bash scripts/ensure-bun.sh
ENV REFLEX_BUN_PATH=/app/.tools/node_modules/@oven/bun-linux-x64/bin/bun \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=0
EXPOSE 8000
CMD ["reflex", "run", "--env", "prod", "--backend-host", "0.0.0.0", "--frontend-port", "8000", "--backend-port", "8000"]
