"""The file-drop channel: the purchase order's CSV written atomically as `<PO number>.csv` into the
channel's directory under `BAKEPLAN_FILE_DROP_ROOT`.

Atomic: the bytes go to a hidden temporary file in the same directory (`.<name>.<random>.tmp`),
are flushed to disk, and the file is renamed over the target, so a supplier collecting files never
sees half of one; it should ignore names starting with a dot. Sending one order again writes the same
bytes under the same name. The directory is not created: on a share that is not mounted, creating it
would hide the order on local disk. A missing directory (an unmounted share) and other I/O errors are
transient; a path that is not a directory or may not be written is permanent.
"""

import asyncio
import os
import tempfile
from pathlib import Path

from contracts.purchasing import PurchaseOrder
from workers.procurement.channels.config import FileDropTarget
from workers.procurement.channels.documents import file_stem, render_csv
from workers.procurement.channels.errors import PermanentSendError, TransientSendError
from workers.procurement.channels.settings import ChannelSettings


def write_atomically(path: Path, data: bytes) -> None:
    """`data` as the whole content of `path`, or `path` unchanged if this raises."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash of the machine
    finally:
        os.close(directory)


def drop_path(order: PurchaseOrder, target: FileDropTarget, settings: ChannelSettings) -> Path:
    if not settings.file_drop_root:
        raise PermanentSendError("file-drop channel, but BAKEPLAN_FILE_DROP_ROOT is not set")
    return Path(settings.file_drop_root) / target.directory / f"{file_stem(order)}.csv"


async def drop_file(order: PurchaseOrder, target: FileDropTarget, settings: ChannelSettings) -> str:
    """Write one attempt; the file's path as the receipt. Raises TransientSendError or PermanentSendError."""
    path = drop_path(order, target, settings)
    try:
        await asyncio.to_thread(write_atomically, path, render_csv(order))
    except (PermissionError, NotADirectoryError, IsADirectoryError) as exc:
        raise PermanentSendError(f"cannot write {path}: {exc}; fix the directory or the supplier's channel") from exc
    except OSError as exc:
        raise TransientSendError(f"cannot write {path}: {exc}") from exc
    return str(path)
