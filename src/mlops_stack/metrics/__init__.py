"""MLflow's Prometheus metrics for a scraper with its own token, never the MLflow admin's password.

MLflow's `/metrics` sits behind basic-auth, so scraping it there needs an MLflow account; MLflow's
permissions cannot make an account that reads `/metrics` and nothing else (every user reads experiments
at `defaultPermission`). The server's workers write their metrics to the multiprocess directory of
`--expose-prometheus`; this exporter, a second container of the MLflow pod sharing that directory,
serves them on its own port to requests carrying the scrape token, and serves nothing else.
"""
