import { createServer, type Server } from 'node:http';
import express from 'express';
import type { ChatNode } from '../chat/chat-node.js';

/**
 * The admin port, never exposed through the load balancer: `/metrics` (Prometheus),
 * `/load` (for the operator's autoscaler) and `POST /drain`.
 */
export function createAdminServer(node: ChatNode, onDrainRequested: () => void): Server {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.type(node.metrics.registry.contentType).send(await node.metrics.registry.metrics());
  });
  app.get('/load', (_req, res) => {
    res.json(node.load());
  });
  app.post('/drain', (_req, res) => {
    res.status(202).json({ draining: true });
    onDrainRequested();
  });
  return createServer(app);
}
