"""Lambda function sources shipped with cdk_mlops (packaged as ``cdk_mlops.lambda_src``)."""
