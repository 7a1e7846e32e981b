"""What the tracking library (`search.tracking`) and the application both use, below both of them.

Helper processes (`processes`), a local store file created whole (`store_files`),
one-line and masked text (`lines`), and MLflow client helpers (`mlflow_client`,
`mlflow_compat`). Each imports only the standard library at import time.
"""
