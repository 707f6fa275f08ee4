"""Garbage collection of deleted runs with the MLflow server's own store access (the chart's gc CronJob).

python3 -m mlops_stack.gc --older-than 30d      # run by `mlflow-entrypoint gc` in the MLflow image
"""
