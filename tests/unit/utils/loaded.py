"""Import a ``_utils`` file directly, the way a plain script (CI) does."""

import importlib.util
import pathlib

UTILS_DIR = pathlib.Path(__file__).resolve().parents[3] / "_utils"


def load_util(name):
    spec = importlib.util.spec_from_file_location(f"project_utils_{name}", UTILS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
