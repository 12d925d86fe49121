import { createServer, type Server } from 'node:http';
import express from 'express';
import type { ChatNode } from '../chat/chat-node.js';
import type { CpuMeter } from './cpu-meter.js';

/**
 * The admin port, never exposed through the load balancer: `/metrics` (Prometheus),
 * `/load` (for the operator's autoscaler: connections, draining, and CPU use as a percentage
 * of the container's request when it has one) and `POST /drain`.
 */
export function createAdminServer(node: ChatNode, cpu: CpuMeter | undefined, onDrainRequested: () => void): Server {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.type(node.metrics.registry.contentType).send(await node.metrics.registry.metrics());
  });
  app.get('/load', (_req, res) => {
    res.json({ ...node.load(), cpuUtilization: cpu?.utilization() });
  });
  app.post('/drain', (_req, res) => {
    res.status(202).json({ draining: true });
    onDrainRequested();
  });
  return createServer(app);
}
