"""Upload a built dataset folder to the Hugging Face Hub."""

from __future__ import annotations

import os

#: Files of a build folder that stay local (resume state).
LOCAL_ONLY_PATTERNS = [".build", ".build/*", ".build/**"]


class HubUploadError(RuntimeError):
    """The upload failed; the message says why and how to upload the (complete) folder later."""


def push_dataset_folder(
    folder: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None
) -> str:
    """Create dataset repository ``repo_id`` if needed and upload ``folder`` (without ``.build``).

    Returns the repository URL.  Raises :class:`HubUploadError` in offline mode
    (``HF_HUB_OFFLINE=1``), without network or credentials, and ``FileNotFoundError`` when the
    folder is not a finished build (no ``README.md`` or no ``data/``).
    """
    from huggingface_hub import HfApi, constants

    folder = os.fspath(folder)
    for required in ("README.md", "data"):
        if not os.path.exists(os.path.join(folder, required)):
            raise FileNotFoundError(f"{folder} is not a finished dataset folder: {required} is missing")
    later = f"The folder {folder} is complete; upload it later with: hf upload {repo_id} {folder} --repo-type dataset"
    if constants.HF_HUB_OFFLINE:
        raise HubUploadError(f"cannot push to the Hub: offline mode is on (HF_HUB_OFFLINE=1). {later}")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            repo_type="dataset",
            ignore_patterns=LOCAL_ONLY_PATTERNS,
            commit_message="Upload synthetic ECG dataset built with sssd-ecg build-dataset",
        )
    except Exception as exc:  # network, authentication, permissions: all end the same way for the user
        raise HubUploadError(
            f"could not push to the Hub repository {repo_id}: {type(exc).__name__}: {exc}. {later}"
        ) from exc
    return str(url)
