# Promptreel on an NVIDIA GPU: the bot, and the render worker (`python -m engine worker`).
# Build: docker build -t promptreel .   (compose.yaml builds it for you)
#
# The CUDA base and the torch build must match: TORCH_INDEX picks PyTorch's wheel index for one
# CUDA version (cu128 for CUDA 12.8). The host needs an NVIDIA driver new enough for that CUDA
# (nvidia-smi's "CUDA Version" at or above it) and the NVIDIA Container Toolkit.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
FROM ${CUDA_IMAGE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
ARG TORCH_SPEC=torch>=2.7

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PROMPTREEL_DATA_DIR=/data \
    PROMPTREEL_CLIPS_DIR=/clips \
    PROMPTREEL_MODELS_DIR=/models \
    HF_HOME=/models/.hf-home

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

# torch first, from the CUDA index, so installing the project does not pull a different build.
RUN pip install "${TORCH_SPEC}" --index-url "${TORCH_INDEX}"

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY engine ./engine
# The farm extra brings the Redis client the worker service needs; torch is already satisfied.
RUN pip install ".[farm]"

RUN useradd --create-home --uid 1000 promptreel \
    && mkdir -p /data /clips /models \
    && chown promptreel:promptreel /data /clips /models
USER promptreel
VOLUME ["/data", "/clips", "/models"]

CMD ["python", "-m", "bot"]
