FROM python:3.11-slim
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH="/app/.venv/bin:$PATH"
RUN pip install --no-cache-dir "uv==0.13.8"
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY contracts ./contracts
COPY infra ./infra
COPY orchestrator ./orchestrator
COPY workers ./workers
COPY lab ./lab
COPY bakeplan ./bakeplan
COPY deploy ./deploy
RUN uv sync --frozen --no-dev
USER nobody
CMD ["bakeplan", "--help"]
