# The testbed image, offline: this checkout's chaos/ package on the locally assembled Python.
ARG PYTHON_IMAGE=chaos-offline/python:3.11
FROM ${PYTHON_IMAGE}
COPY chaos /opt/chaos/app/chaos
COPY chaos_drills.dist-info /opt/chaos/site-packages/chaos_drills-0.1.0.dist-info
WORKDIR /opt/chaos
CMD ["python3", "-m", "chaos", "--help"]
