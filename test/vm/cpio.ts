// A minimal writer of cpio "newc" archives, the format the Linux kernel unpacks as initramfs.
// The kernel accepts several archives concatenated into one initrd (later files win), which is
// how guest.ts adds a per-run /test.sh to the cached base image without rebuilding it.

export interface CpioFile {
  /** Path inside the archive, without a leading slash (e.g. "test.sh"). */
  name: string;
  data: Buffer | string;
  /** Permission bits; the file is always a regular file. */
  mode?: number;
}

const S_IFREG = 0o100000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Zero bytes that bring `length` up to a multiple of 4, as newc requires after names and data. */
function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function entry(name: string, data: Buffer, mode: number, ino: number): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const header = Buffer.from(
    '070701' +
      [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0].map(hex8).join(''),
  );
  // The header is 110 bytes; the name is padded so that header + name is a multiple of 4.
  return Buffer.concat([header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)]);
}

/** An archive of regular files (uid/gid 0, mtime 0), ending with the TRAILER!!! entry. */
export function cpioArchive(files: CpioFile[]): Buffer {
  const parts = files.map((f, i) =>
    entry(f.name, Buffer.from(f.data), S_IFREG | (f.mode ?? 0o644), i + 1),
  );
  parts.push(entry('TRAILER!!!', Buffer.alloc(0), 0, 0));
  return Buffer.concat(parts);
}
