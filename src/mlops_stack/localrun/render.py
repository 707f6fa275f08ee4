"""`helm template`, run twice so that generated values can be told from values that come from the chart."""

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mlops_stack.localrun.errors import LocalRunError
from mlops_stack.localrun.manifests import Manifest, parse


@dataclass
class Chart:
    path: Path
    release: str
    namespace: str = "default"
    values_files: list[Path] = field(default_factory=list)
    set_values: list[str] = field(default_factory=list)
    helm: str = "helm"

    def command(self) -> list[str]:
        command = [self.helm, "template", self.release, str(self.path), "--namespace", self.namespace]
        for values in self.values_files:
            command += ["--values", str(values)]
        for assignment in self.set_values:
            command += ["--set", assignment]
        return command


def render(chart: Chart) -> list[Manifest]:
    if shutil.which(chart.helm) is None:
        raise LocalRunError(f"{chart.helm!r} not found; `make tools` puts helm in .tools/bin")
    done = subprocess.run(chart.command(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LocalRunError(f"helm template failed:\n{done.stderr.strip()}")
    return parse(done.stdout)
