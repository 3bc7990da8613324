"""⑦ The AWS side as code: the CloudFormation stack of the original's console work, and the command that deploys it.

``python -m pinterest_pipeline.aws deploy|status|delete`` (:mod:`~pinterest_pipeline.aws.cli`); the template ships in
the package (:func:`~pinterest_pipeline.aws.template.template_body`). Needs the ``pipeline`` extra (boto3).
"""
