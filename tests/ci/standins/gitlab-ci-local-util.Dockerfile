# Stands in for gitlab-ci-local's helper image (docker.io/firecow/gitlab-ci-local-util), which copies the
# project, the cache and the artifacts in and out of the job's volumes: sh, bash and rsync.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsync >/dev/null \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.description="stand-in for gitlab-ci-local's helper image (tests/ci)"
