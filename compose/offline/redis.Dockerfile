# Redis from Debian's redis-server/redis-cli and the shared libraries ldd names, on scratch.
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
