# Toxiproxy from the statically linked binaries build-offline.sh made with the Go toolchain
# (CGO_ENABLED=0): the same layout as ghcr.io/shopify/toxiproxy (/toxiproxy, /toxiproxy-cli).
FROM scratch
COPY rootfs/ /
ENV PATH=/:/bin
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
