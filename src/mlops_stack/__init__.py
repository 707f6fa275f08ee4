"""mlops-stack: the client bootstrap and the server-side pieces shared by the images."""

__version__ = "0.1.0"
from mlops_stack.tracking import DirtyWorkingTreeError, NotAGitRepositoryError, tracked_run  # noqa: F401
