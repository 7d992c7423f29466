# The testbed image for machines with registry access: this checkout's package on python:3.11.
# (Offline, compose/offline/testbed.Dockerfile builds the same from local files.)
FROM python:3.11-slim
WORKDIR /opt/chaos
COPY pyproject.toml setup.py README.md ./
COPY chaos ./chaos
RUN pip install --no-cache-dir . && rm -rf /root/.cache
CMD ["python3", "-m", "chaos", "--help"]
