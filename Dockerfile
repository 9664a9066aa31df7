FROM python:3.11-slim
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH="/app/.venv/bin:$PATH"
# glibc: buffers past 128 KB (a large tenant's messages) are mapped and given back when freed, not
# left in the heap: -22 MB peak RSS in the orchestrator with large tenants (docs/deploy.md, "Memory")
ENV MALLOC_MMAP_THRESHOLD_=131072
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
