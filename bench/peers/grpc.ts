/**
 * @grpc/grpc-js unary calls over one insecure loopback HTTP/2 channel. The service is defined by hand (no protobuf
 * code generation, no proto-loader): one method whose request and response are serialized with msgpackr.
 * Events are unary calls to a second method whose tiny reply (`true`) is awaited; gRPC has no fire-and-forget.
 */
import * as grpc from '@grpc/grpc-js';
import { Packr } from 'msgpackr';
import type { PeerClient, PeerServer, PeerSystem } from './peer-system.js';

const packr = new Packr({ useRecords: false });
const serialize = (value: unknown): Buffer => packr.pack(value);
const deserialize = (bytes: Buffer): unknown => packr.unpack(bytes);

const ECHO_PATH = '/bench.Bench/Echo';
const TICK_PATH = '/bench.Bench/Tick';

function unaryMethod(path: string): grpc.MethodDefinition<unknown, unknown> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  };
}

const benchService: grpc.ServiceDefinition = {
  Echo: unaryMethod(ECHO_PATH),
  Tick: unaryMethod(TICK_PATH),
};

async function startServer(): Promise<PeerServer> {
  let delivered = 0;
  const server = new grpc.Server();
  server.addService(benchService, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      callback(null, call.request);
    },
    Tick: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      delivered++;
      callback(null, true);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
  return {
    address: `127.0.0.1:${port}`,
    eventsDelivered: () => delivered,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}

async function startClient(address: string): Promise<PeerClient> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
  );
  const unary = (path: string, payload: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      client.makeUnaryRequest(path, serialize, deserialize, payload, (err, value) =>
        err ? reject(err) : resolve(value),
      );
    });
  return {
    call: (payload) => unary(ECHO_PATH, payload),
    emit: (payload) => unary(TICK_PATH, payload).then(() => undefined),
    emitWindow: 1000,
    stop: async () => client.close(),
  };
}

export const grpcJs: PeerSystem = {
  name: 'grpc',
  description: '@grpc/grpc-js unary, insecure loopback channel, hand-written service definition, msgpackr bodies',
  startServer,
  startClient,
};
