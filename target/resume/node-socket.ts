// Every use of Node's internals by direct sockets (resume/direct-socket.ts), in one place, with what each
// relies on (checked on Node 26; target/README.md "In-pod resume" says why direct sockets exist):
//  - `socket._handle`: the libuv TCP wrap of a net.Socket. child_process sends a raw wrap as type
//    'net.Native' (worker.send(m, handle)): the fd goes over the IPC channel (SCM_RIGHTS) and the sender's
//    handle stays open and usable, unlike sending the net.Socket (which the sender then closes). So the
//    supervisor keeps the socket alive across worker deaths and hands the same wrap to each new worker.
//  - `handle.fd`: the descriptor, for the kernel's byte counts (tcp-positions.ts).
//  - `pauseOnCreate` (the option net.Server's pauseOnConnect uses): a socket built on a handle does not
//    start reading, so no byte is read before the ring view is set.
//  - `onread: { buffer: fn, callback }`: Node calls callback(nread) after each read into the user buffer,
//    then fn() and reads the next chunk into the view it returns (lib/internal/stream_base_commons.js
//    onStreamRead); callback returning false stops reading (readStop).
//  - `handle.useUserBuffer(view)`: the view the next read goes into; after a pause the one Node kept is
//    stale (the ring moved), so a fresh one is set before reading again.
import { Socket } from 'node:net';

/** A libuv stream handle (TCPWrap) as child_process hands it over. */
export interface NativeHandle {
  readonly fd: number;
  useUserBuffer(buf: Uint8Array): void;
}

/** The handle under a net.Socket, to send to a worker (undefined once the socket is destroyed). */
export function socketHandle(sock: Socket): NativeHandle | undefined {
  return (sock as unknown as { _handle: NativeHandle | null })._handle ?? undefined;
}

/**
 * A net.Socket over a handle received from the supervisor, reading into the views `buffer` returns, and not
 * reading until resume() (call setReadView first).
 */
export function socketOnHandle(handle: NativeHandle, buffer: () => Uint8Array, callback: (nread: number) => boolean): Socket {
  return new Socket({
    handle, readable: true, writable: true, allowHalfOpen: true, pauseOnCreate: true, onread: { buffer, callback },
  } as unknown as ConstructorParameters<typeof Socket>[0]);
}

/** Sets the view the socket's next read goes into (Node kept the one from before a pause). */
export function setReadView(sock: Socket, view: Uint8Array): void {
  socketHandle(sock)?.useUserBuffer(view);
}
