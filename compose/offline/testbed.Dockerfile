# The testbed image, offline: this checkout's chaos/ package on the locally assembled Python.
# Context: the repository root, or the staged copy of chaos/ that build-offline.sh makes.
ARG PYTHON_IMAGE=chaos-offline/python:3.11
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
COPY chaos /opt/chaos/app/chaos
# Package metadata, so importlib.metadata knows chaos-drills (busybox sh in the base image).
RUN ["/bin/sh", "-c", "d=/opt/chaos/site-packages/chaos_drills-${VERSION}.dist-info && mkdir -p $d && printf 'Metadata-Version: 2.1\\nName: chaos-drills\\nVersion: %s\\n' ${VERSION} > $d/METADATA"]
RUN ["python3", "-m", "compileall", "-q", "/opt/chaos/app"]
WORKDIR /opt/chaos
CMD ["python3", "-m", "chaos", "--help"]
