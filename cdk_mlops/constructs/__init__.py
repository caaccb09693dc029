"""The constructs of cdk-mlops. (This package sits inside ``cdk_mlops``: a top-level ``constructs``
package would shadow the ``constructs`` library aws-cdk-lib depends on, aws-cdk issue 19301.)"""
