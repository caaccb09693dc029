"""A serving worker, run with the model environment's Python (see ``serving``): loads one model and
answers requests over stdin/stdout until stdin closes. Needs the standard library and numpy, plus the
framework the model uses.

Protocol: each message is one JSON header line (with ``body_length``) followed by that many body bytes.
The first message the worker sends says whether the model loaded (``{"ok": true}`` or ``{"ok": false,
"error": ...}``); then one answer per request. Everything the model's code prints goes to stderr.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import traceback
from typing import Any

PROTOCOL_OUT = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)  # the user's prints go to stderr, the worker's log
PROTOCOL_IN = sys.stdin.buffer

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
LIBSVM = "text/libsvm"


def send(header: dict[str, Any], body: bytes = b"") -> None:
    header["body_length"] = len(body)
    PROTOCOL_OUT.write(json.dumps(header).encode("utf-8") + b"\n")
    PROTOCOL_OUT.write(body)
    PROTOCOL_OUT.flush()


def receive() -> tuple[dict[str, Any], bytes] | None:
    line = PROTOCOL_IN.readline()
    if not line:
        return None
    header: dict[str, Any] = json.loads(line)
    return header, PROTOCOL_IN.read(header["body_length"])


def base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


class ServingError(Exception):
    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


# -- script mode: the framework container's default handlers (sagemaker-inference-toolkit, sklearn) --


def decode(data: bytes, content_type: str | None) -> Any:
    import numpy as np

    kind = base_type(content_type)
    if kind == JSON:
        return np.array(json.loads(data.decode("utf-8")))
    if kind == CSV:
        return np.genfromtxt(io.StringIO(data.decode("utf-8")), delimiter=",")
    if kind == NPY:
        return np.load(io.BytesIO(data), allow_pickle=False)
    raise ServingError(
        f"Content type {content_type} is not supported by this framework. Please implement input_fn to to "
        f"deserialize the request data or an output_fn to serialize the response.",
        415,
    )


def encode(prediction: Any, accept: str) -> tuple[bytes, str]:
    import numpy as np

    kind = base_type(accept)
    array = np.asarray(prediction)
    if kind == JSON:
        return json.dumps(array.tolist()).encode("utf-8"), JSON
    if kind == CSV:
        stream = io.StringIO()
        np.savetxt(stream, array, delimiter=",", fmt="%s")
        return stream.getvalue().encode("utf-8"), CSV
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array)
        return buffer.getvalue(), NPY
    raise ServingError(f"Accept type {accept} is not supported by this framework.", 406)


def default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation. See documentation for model_fn at "
        "https://github.com/aws/sagemaker-python-sdk"
    )


def default_input_fn(data: bytes, content_type: str | None) -> Any:
    import numpy as np

    array = decode(data, content_type)
    return array.astype(np.float32) if base_type(content_type) in (JSON, CSV) else array


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return encode(prediction, accept)


class ScriptMode:
    def __init__(self, model_dir: str, code_dir: str, program: str) -> None:
        sys.path.insert(0, code_dir)
        module = importlib.import_module(program[:-3] if program.endswith(".py") else program)
        self.transform_fn = getattr(module, "transform_fn", None)
        self.input_fn = getattr(module, "input_fn", None) or default_input_fn
        self.predict_fn = getattr(module, "predict_fn", None) or default_predict_fn
        self.output_fn = getattr(module, "output_fn", None) or default_output_fn
        self.model = getattr(module, "model_fn", default_model_fn)(model_dir)

    def __call__(self, body: bytes, content_type: str | None, accept: str) -> tuple[bytes, str]:
        if self.transform_fn is not None:
            result = self.transform_fn(self.model, body, content_type, accept)
        else:
            result = self.output_fn(self.predict_fn(self.input_fn(body, content_type), self.model), accept)
        if isinstance(result, tuple):
            data, answered_type = result[0], result[1]
        else:
            data, answered_type = result, accept
        if isinstance(data, str):
            data = data.encode("utf-8")
        return bytes(data), answered_type


# -- built-in XGBoost (sagemaker-xgboost-container algorithm_mode/serve.py) -------------------------


class BuiltinXGBoost:
    def __init__(self, model_dir: str) -> None:
        import pickle

        import xgboost as xgb

        files = sorted(name for name in os.listdir(model_dir) if not name.startswith("."))
        if not files:
            raise RuntimeError(f"no model file in {model_dir}")
        path = os.path.join(model_dir, files[0])
        try:
            with open(path, "rb") as stream:
                self.booster = pickle.load(stream)
        except Exception as pickle_error:
            try:
                self.booster = xgb.Booster()
                self.booster.load_model(path)
            except Exception as xgb_error:
                raise RuntimeError(
                    f"Model {path} cannot be loaded:\nPickle load error={pickle_error}\n"
                    f"XGB load model error={xgb_error}"
                ) from None
        self.xgb = xgb

    def parse(self, body: bytes, content_type: str | None) -> Any:
        import numpy as np

        kind = base_type(content_type) or CSV
        text = body.strip().decode("utf-8")
        if kind == CSV:
            try:
                rows = [
                    [float(cell) if cell.strip() else np.nan for cell in line.split(",")]
                    for line in text.splitlines()
                    if line.strip()
                ]
                return self.xgb.DMatrix(np.array(rows, dtype=float))
            except Exception as error:
                raise ServingError(
                    f"Loading csv data failed with Exception, please ensure data is in csv format:\n "
                    f"{type(error)}\n {error}",
                    415,
                ) from None
        if kind in (LIBSVM, "text/x-libsvm"):
            try:
                sparse: list[dict[int, float]] = []
                columns = 0
                for line in text.splitlines():
                    pairs = [item.split(":") for item in line.split()[1:]]
                    entries = {int(k): float(v) for k, v in pairs}
                    columns = max(columns, max(entries, default=-1) + 1)
                    sparse.append(entries)
                matrix = np.full((len(sparse), columns), np.nan)
                for index, entries in enumerate(sparse):
                    for column, value in entries.items():
                        matrix[index, column] = value
                return self.xgb.DMatrix(matrix)
            except Exception as error:
                raise ServingError(
                    f"Loading libsvm data failed with Exception, please ensure data is in libsvm format:\n "
                    f"{type(error)}\n {error}",
                    415,
                ) from None
        raise ServingError(f"Content-type {content_type} is not supported.", 415)

    def __call__(self, body: bytes, content_type: str | None, accept: str) -> tuple[bytes, str]:
        if not body:
            return b"", base_type(accept) or CSV
        data = self.parse(body, content_type)
        try:
            predictions = self.booster.predict(data).tolist()
        except Exception as error:
            raise ServingError(f"Unable to evaluate payload provided: {error}", 400) from None
        kind = base_type(accept)
        if not kind or kind == "*/*":
            kind = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", CSV)
        if os.environ.get("SAGEMAKER_BATCH", "").lower() == "true":
            return ("\n".join(map(str, predictions)) + "\n").encode("utf-8"), kind
        if kind == JSON:
            scores = [{"score": value} for value in predictions]
            return json.dumps({"predictions": scores}).encode("utf-8"), JSON
        if kind == CSV:
            lines = [",".join(map(str, p)) if isinstance(p, list) else str(p) for p in predictions]
            return "\n".join(lines).encode("utf-8"), CSV
        raise ServingError(f"Accept type {accept} is not supported.", 406)


def main() -> None:
    model_dir, code_dir, program, flavour = sys.argv[1:5]
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
    try:
        handler = BuiltinXGBoost(model_dir) if flavour == "xgboost" else ScriptMode(model_dir, code_dir, program)
    except Exception as error:
        traceback.print_exc()
        send({"ok": False, "error": f"{type(error).__name__}: {error}"})
        return
    send({"ok": True})
    while True:
        message = receive()
        if message is None:
            return
        header, body = message
        accept = header.get("accept")
        if not accept or accept == "*/*":
            accept = default_accept if flavour != "xgboost" else ""
        try:
            data, content_type = handler(body, header.get("content_type"), accept)
            send({"ok": True, "content_type": content_type}, data)
        except ServingError as error:
            send({"ok": False, "status": error.status, "error": str(error)})
        except Exception as error:
            traceback.print_exc()
            send({"ok": False, "status": 500, "error": f"{type(error).__name__}: {error}"})


if __name__ == "__main__":
    main()
