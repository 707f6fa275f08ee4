"""Register a run's model in the MLflow Model Registry and point an alias at the new version.

python register.py RUN_ID --name wine-classifier --alias champion
"""

import argparse

import mlflow
from team_server import use_team_server


def register(run_id: str, name: str, alias: str) -> str:
    use_team_server()
    version = mlflow.register_model(f"runs:/{run_id}/model", name).version
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return str(version)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("run_id")
    parser.add_argument("--name", default="wine-classifier")
    parser.add_argument("--alias", default="champion")
    args = parser.parse_args()
    version = register(args.run_id, args.name, args.alias)
    print(f"registered {args.name} version {version} as @{args.alias}")


if __name__ == "__main__":
    main()
