/**
 * A TCP proxy for fault tests: forwards 127.0.0.1:<port> to a target, and can black-hole every
 * connection (bytes in both directions are silently dropped, nothing is closed), as a partitioned
 * network does. Closes seen during the black-hole reach the other side only when it heals, as a
 * FIN lost in a partition is retransmitted afterwards.
 *
 * @example
 * const proxy = await startTcpProxy(5432);
 * proxy.blackhole(true); … proxy.blackhole(false);
 * await proxy.close();
 */
import type { Socket } from "node:net";
import { connect, createServer } from "node:net";

export interface TcpProxy {
  port: number;
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  let holed = false;
  const sockets = new Set<Socket>();
  const deferred: (() => void)[] = [];
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    const pipe = (from: Socket, to: Socket) => {
      from.on("data", (chunk: Buffer) => {
        if (!holed) to.write(chunk);
      });
      from.on("close", () => {
        if (holed) deferred.push(() => to.destroy());
        else to.destroy();
      });
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP port");
  return {
    port: address.port,
    blackhole(on) {
      holed = on;
      if (!on) for (const close of deferred.splice(0)) close();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
