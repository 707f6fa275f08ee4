# Stands in for the official python:3.11.x-slim-bookworm job image where no registry answers: the same
# Debian release (bookworm, from the project's pinned base) with Debian's Python 3.11 made to look like
# the official image where the jobs rely on it: python3 (and python) on PATH with venv and ensurepip,
# root, ca-certificates, no package lists (so scripts/ci-prepare runs `apt-get update` as it must there),
# no compiler, no make, git or curl (scripts/ci-prepare installs those).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv ca-certificates netbase tzdata >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python
ENV LANG=C.UTF-8
LABEL org.opencontainers.image.description="stand-in for python:3.11-slim-bookworm (tests/ci)"
CMD ["python3"]
