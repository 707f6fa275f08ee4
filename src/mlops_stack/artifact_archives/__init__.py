"""Many small artifacts in one request: tar archives through MLflow's artifact proxy.

MLflow's proxy moves one file per HTTP request, and its server spends about 5 ms of CPU on each (routing,
auth, permission check, handler) before the store is called: a folder of 1,000 plots costs seconds of
server time that OpenSSH spends on nothing. This package is the wire format both sides share:

- `PUT <artifact dir>/?archive=tar` with an `application/x-tar` body: the server unpacks it and logs the
  files below that directory with the store's own `log_artifacts` (in parallel, for the sftp store);
- `GET <artifact dir>/?archive=tar`: the server lists the directory and streams it back as one tar, file
  by file as the store's own `_download_file` fetches them, a few ahead in parallel; 404 when the path is
  no directory with artifacts;
- `GET /api/2.0/mlops-stack/artifact-archives`: the server says it speaks this; a stock MLflow server
  answers 404 and the client keeps to one request per file.

The URLs are MLflow's own artifact URLs, so the same authentication and the same permission check (read
for GET, update for PUT, on the experiment the path belongs to) apply as to every single file. The
trailing slash makes a stock server refuse the PUT (a file name is required) instead of storing the
archive. Archives hold regular files and directories only; anything else, an absolute name or a `..` is
refused on both sides (`tar_stream.unpack`).
"""

ARCHIVE_QUERY = {"archive": "tar"}
CONTENT_TYPE = "application/x-tar"
FEATURE_PATH = "/api/2.0/mlops-stack/artifact-archives"
FEATURE_VERSION = 1
