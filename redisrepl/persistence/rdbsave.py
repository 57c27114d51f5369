"""Writing a snapshot to disk, as Redis 7.0's rdbSave does.

The dump goes to ``temp-<pid>.rdb`` in the working directory (which is
``dir``), is fsynced, and only then renamed over ``dbfilename``, so a
failed or interrupted save never touches the previous dump; the directory
is fsynced last so the rename itself survives a crash. The same function
runs in the server (SAVE, SHUTDOWN, FLUSHALL) and in a BGSAVE child; the
caller updates the server state from the result.
"""

import errno
import os

from twisted.logger import Logger

log = Logger()

# rdb-save-incremental-fsync: fsync every 4 MB written, as Redis's
# REDIS_AUTOSYNC_BYTES, so the kernel never holds a huge dirty backlog.
AUTOSYNC_BYTES = 4 * 1024 * 1024


class SaveError(Exception):
    """A failed step: ``op`` names it as Redis's log does."""

    def __init__(self, op, error):
        super().__init__(op, error)
        self.op = op
        self.error = error


def temp_file_name(pid):
    """The temp file a save by process ``pid`` writes (rdbRemoveTempFile)."""
    return "temp-%d.rdb" % pid


def _cwd():
    try:
        return os.getcwd()
    except OSError:
        return "unknown"


def strerror(error):
    """An OSError's text as Redis's strerror(errno) shows it."""
    return error.strerror or str(error)


def save_snapshot(snapshot, filename, on_key=None, incremental_fsync=True, pid=None):
    """Write ``snapshot`` over ``filename`` atomically. True on success;
    on failure the temp file is gone, the old dump intact and Redis's
    warning logged."""
    tmpfile = temp_file_name(os.getpid() if pid is None else pid)
    try:
        fd = os.open(tmpfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as error:
        log.warn("Failed opening the temp RDB file {tmpfile} (in server root dir "  # noqa: G010
                 "{cwd}) for saving: {reason}",
                 tmpfile=tmpfile, cwd=_cwd(), reason=strerror(error))
        return False
    try:
        try:
            write_all(fd, snapshot.chunks(on_key), incremental_fsync)
            _step("fsync", os.fsync, fd)
        except BaseException:
            _close_quietly(fd)
            raise
        _step("fclose", os.close, fd)
        try:
            os.rename(tmpfile, filename)
        except OSError as error:
            log.warn("Error moving temp DB file {tmpfile} on the final destination "  # noqa: G010
                     "{filename} (in server root dir {cwd}): {reason}",
                     tmpfile=tmpfile, filename=filename, cwd=_cwd(),
                     reason=strerror(error))
            unlink_quietly(tmpfile)
            return False
        _step("fsyncFileDir", fsync_file_dir, filename)
    except SaveError as failure:
        log.warn("Write error saving DB on disk({op}): {reason}",  # noqa: G010
                 op=failure.op, reason=strerror(failure.error))
        unlink_quietly(tmpfile)
        return False
    except Exception:
        # A value the encoder cannot write is a bug, but it must still
        # leave the previous dump alone.
        log.failure("Error saving DB on disk")
        unlink_quietly(tmpfile)
        return False
    log.info("DB saved on disk")
    return True


def _step(op, function, *args):
    try:
        function(*args)
    except OSError as error:
        raise SaveError(op, error) from None


def write_all(fd, chunks, incremental_fsync):
    """Write every chunk to ``fd``; with ``incremental_fsync`` fdatasync
    every AUTOSYNC_BYTES. Raises SaveError("rdbSaveRio", error)."""
    unsynced = 0
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if incremental_fsync:
                unsynced += len(chunk)
                if unsynced >= AUTOSYNC_BYTES:
                    os.fdatasync(fd)
                    unsynced = 0
    except OSError as error:
        raise SaveError("rdbSaveRio", error) from None


def fsync_file_dir(filename):
    """Redis's fsyncFileDir: make the rename durable. Systems that cannot
    open or fsync a directory are not an error."""
    dirname = os.path.dirname(filename) or "."
    try:
        dir_fd = os.open(dirname, os.O_RDONLY)
    except IsADirectoryError:
        return
    try:
        os.fsync(dir_fd)
    except OSError as error:
        if error.errno not in (errno.EBADF, errno.EINVAL):
            raise
    finally:
        os.close(dir_fd)


def _close_quietly(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def unlink_quietly(path):
    """unlink, where a file already gone is no error."""
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_temp_file(pid):
    """rdbRemoveTempFile: drop what a killed save by ``pid`` left."""
    unlink_quietly(temp_file_name(pid))
