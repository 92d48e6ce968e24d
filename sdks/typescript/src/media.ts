/** A download written atomically (Node only): nobody ever sees half a video at the destination path. */

import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

import { DownloadIntegrityError } from "./errors.js";

export async function targetPath(path: string, jobId: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() ? join(path, `${jobId}.mp4`) : path;
}

/**
 * Bytes go to a hidden temporary file beside `target` and are hashed as they arrive; the size and sha256
 * are checked against what the job reported, then the file is renamed into place (atomic on one file
 * system). On any failure the temporary file is removed and `target` is left as it was.
 */
export async function saveAtomically(
  response: Response,
  target: string,
  expected: { size: number | null; sha256: string | null },
): Promise<string> {
  await mkdir(dirname(target), { recursive: true });
  const temporary = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.part`);
  const file = await open(temporary, "wx");
  const digest = createHash("sha256");
  let size = 0;
  try {
    if (response.body !== null) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        digest.update(chunk);
        size += chunk.byteLength;
      }
    }
    await file.sync();
    await file.close();
    verify(size, digest.digest("hex"), expected);
    await rename(temporary, target);
    return target;
  } catch (error) {
    await file.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

function verify(
  size: number,
  sha256: string,
  expected: { size: number | null; sha256: string | null },
): void {
  if (expected.size !== null && size !== expected.size) {
    throw new DownloadIntegrityError(`downloaded ${size} bytes but the job reported ${expected.size}`, {
      code: "download_size_mismatch",
    });
  }
  if (expected.sha256 !== null && sha256 !== expected.sha256.toLowerCase()) {
    throw new DownloadIntegrityError(`downloaded sha256 ${sha256} but the job reported ${expected.sha256}`, {
      code: "download_checksum_mismatch",
    });
  }
}
