# This machine's Python, its stdlib, the runtime dependencies of chaos-drills and the shared
# libraries ldd names, on scratch (stage_rootfs.py assembles rootfs/).
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin \
    PYTHONPATH=/opt/chaos/app:/opt/chaos/site-packages \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/root
# Bytecode compiled once here: without it every container start compiles pydantic & co.
RUN ["python3", "-m", "compileall", "-q", "-j", "0", "/opt/chaos/site-packages"]
CMD ["python3"]
