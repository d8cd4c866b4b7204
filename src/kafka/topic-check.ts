import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { ConfigErrors, ProduceError, TopicError, TopicLostError, type TopicProblem } from '../errors.js';
import { kafkaErrorType, TOPIC_MISSING, TOPIC_NOT_AUTHORIZED } from './protocol-errors.js';

/** A topic the service needs, the variable that names it, and whether it is read (the input) or written. */
export interface TopicRole {
  readonly variable: 'INPUT_TOPIC' | 'OUTPUT_TOPIC' | 'DLQ_TOPIC';
  readonly topic: string;
  readonly use: 'read' | 'write';
}

/** The topics of a run and what their messages and CREATE_TOPICS need to know. */
export interface TopicPlan {
  readonly roles: readonly TopicRole[];
  readonly groupId: string;
  /** Who the broker sees, for messages about permissions; undefined without SASL. */
  readonly saslUsername: string | undefined;
  /** CREATE_TOPICS: create the missing topics at start-up instead of stopping. */
  readonly create: boolean;
  /** Partitions of a created topic, and of the one a message says to create. */
  readonly partitions: number;
  readonly replication: number | 'auto';
}

type TopicSettings = Pick<
  Config,
  'inputTopic' | 'outputTopic' | 'dlqTopic' | 'groupId' | 'saslUsername' | 'createTopics' | 'createTopicsPartitions' | 'createTopicsReplication'
>;

/** The topic plan of a configuration. */
export function topicPlan(config: TopicSettings): TopicPlan {
  return {
    roles: [
      { variable: 'INPUT_TOPIC', topic: config.inputTopic, use: 'read' },
      { variable: 'OUTPUT_TOPIC', topic: config.outputTopic, use: 'write' },
      { variable: 'DLQ_TOPIC', topic: config.dlqTopic, use: 'write' },
    ],
    groupId: config.groupId,
    saslUsername: config.saslUsername,
    create: config.createTopics,
    partitions: config.createTopicsPartitions,
    replication: config.createTopicsReplication,
  };
}

/** The line above the start-up problems, one line per topic below it. */
const HEADING = 'topics missing or not usable';
/** kafkajs's replication factor for "the broker's default.replication.factor". */
const BROKER_DEFAULT_REPLICATION = -1;
/** Another instance created the topic at the same time: it exists, which is all that was wanted. */
const TOPIC_EXISTS = 'TOPIC_ALREADY_EXISTS';

type TopicState = 'ok' | TopicProblem;

interface TopicStatus {
  readonly role: TopicRole;
  readonly state: TopicState;
}

/** Why the broker refused to create a topic, as kafkajs reports it. */
interface CreateFailure {
  readonly type: string;
  readonly message: string;
}

const quote = (text: string) => JSON.stringify(text);

async function withAdmin<T>(kafka: Kafka, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Whether the broker has the topic and lets these credentials see it. Any other error (no broker, bad credentials) is thrown. */
async function topicState(admin: Admin, topic: string): Promise<TopicState> {
  try {
    await admin.fetchTopicMetadata({ topics: [topic] });
    return 'ok';
  } catch (error) {
    const type = kafkaErrorType(error);
    if (type === TOPIC_MISSING) return 'missing';
    if (type === TOPIC_NOT_AUTHORIZED) return 'not_authorized';
    throw error;
  }
}

/** One topic per request: kafkajs reports only the first failing topic of a metadata response. */
async function topicStates(admin: Admin, roles: readonly TopicRole[]): Promise<TopicStatus[]> {
  const statuses: TopicStatus[] = [];
  for (const role of roles) statuses.push({ role, state: await topicState(admin, role.topic) });
  return statuses;
}

function createCommand(plan: TopicPlan, topic: string): string {
  return `bash scripts/kafka.sh topics --create --topic ${topic} --partitions ${plan.partitions}`;
}

function createFix(plan: TopicPlan, topic: string): string {
  return `local broker: ${createCommand(plan, topic)}; in production, creating topics is the Kafka admin's job`;
}

function principal(plan: TopicPlan): string {
  return plan.saslUsername === undefined ? 'no SASL user' : `SASL user ${quote(plan.saslUsername)}`;
}

/** The ACLs a role needs, as an admin would grant them. */
function grants(plan: TopicPlan, role: TopicRole): string {
  return role.use === 'read'
    ? `DESCRIBE and READ on topic ${quote(role.topic)} and READ on group ${quote(plan.groupId)}`
    : `DESCRIBE and WRITE on topic ${quote(role.topic)}`;
}

function createHint(plan: TopicPlan, role: TopicRole, type: string): string {
  switch (type) {
    case 'INVALID_REPLICATION_FACTOR':
      return `set CREATE_TOPICS_REPLICATION (${plan.replication}) to at most the number of brokers, or to auto for the broker's default`;
    case 'INVALID_PARTITIONS':
      return `check CREATE_TOPICS_PARTITIONS (${plan.partitions})`;
    case TOPIC_NOT_AUTHORIZED:
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return `the configured credentials (${principal(plan)}) may not create topics: have the Kafka admin create it with ${plan.partitions} partitions`;
    case 'POLICY_VIOLATION':
      return `the broker's topic policy refused it: have the Kafka admin create it`;
    default:
      return `create it (${createFix(plan, role.topic)})`;
  }
}

/** The start-up problem of one topic, as one line: what is wrong and the fix. */
function startProblem(plan: TopicPlan, { role, state }: TopicStatus, failure: CreateFailure | undefined): TopicError {
  const { variable, topic } = role;
  if (state === 'not_authorized') {
    return new TopicError(
      variable,
      topic,
      `topic ${quote(topic)} is not accessible with the configured credentials (${TOPIC_NOT_AUTHORIZED}, ${principal(plan)}; ` +
        `the broker does not say whether it exists): ask the Kafka admin to create it if needed and grant ${grants(plan, role)}`,
    );
  }
  if (failure !== undefined) {
    return new TopicError(
      variable,
      topic,
      `topic ${quote(topic)} does not exist and CREATE_TOPICS=true could not create it (${failure.type}: ${failure.message}): ` +
        createHint(plan, role, failure.type),
    );
  }
  return new TopicError(
    variable,
    topic,
    `topic ${quote(topic)} does not exist: create it (${createFix(plan, topic)}), or set CREATE_TOPICS=true to have geowindow create it (development only)`,
  );
}

/**
 * The broker's answer for each topic it did not create, by name (one that
 * another instance created meanwhile among them). kafkajs gathers the
 * per-topic errors of one request in `errors`; any other broker error
 * applies to every topic asked for. An error that is not the broker's
 * (no connection) is thrown.
 */
function createFailures(error: unknown, roles: readonly TopicRole[]): Map<string, CreateFailure> {
  const failures = new Map<string, CreateFailure>();
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    for (const item of errors) {
      const topic = (item as { topic?: unknown }).topic;
      const type = kafkaErrorType(item);
      if (typeof topic === 'string' && type !== undefined) failures.set(topic, { type, message: (item as Error).message });
    }
    return failures;
  }
  const type = kafkaErrorType(error);
  if (type === undefined) throw error;
  for (const role of roles) failures.set(role.topic, { type, message: (error as Error).message });
  return failures;
}

/** CREATE_TOPICS: creates the missing topics, logging each it created; returns those the broker refused, by name. */
async function createMissing(admin: Admin, plan: TopicPlan, roles: readonly TopicRole[], logger: Logger): Promise<Map<string, CreateFailure>> {
  let failures = new Map<string, CreateFailure>();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: roles.map((role) => ({
        topic: role.topic,
        numPartitions: plan.partitions,
        replicationFactor: plan.replication === 'auto' ? BROKER_DEFAULT_REPLICATION : plan.replication,
      })),
    });
  } catch (error) {
    failures = createFailures(error, roles);
  }
  const replication = plan.replication === 'auto' ? "the broker's default replication factor" : `replication factor ${plan.replication}`;
  for (const { variable, topic } of roles) {
    if (failures.has(topic)) continue;
    logger.info(
      { topic, variable, partitions: plan.partitions, replicationFactor: plan.replication },
      `created topic ${quote(topic)} for ${variable} with ${plan.partitions} partitions and ${replication} (CREATE_TOPICS=true)`,
    );
  }
  return new Map([...failures].filter(([, failure]) => failure.type !== TOPIC_EXISTS));
}

/**
 * Before the service consumes anything: every configured topic must exist
 * and be visible to the configured credentials. With CREATE_TOPICS the
 * missing ones are created first. Throws ConfigErrors (exit code 3) with one
 * TopicError per topic that cannot be used; a broker that cannot be reached
 * or refuses the credentials throws the client's error.
 *
 * Whether the credentials may read or write a visible topic is not asked:
 * the metadata kafkajs requests carries no permissions, and a test write
 * would be a record. A refusal then stops the service when it happens (see
 * lostTopics).
 */
export async function checkTopics(kafka: Kafka, plan: TopicPlan, logger: Logger): Promise<void> {
  const problems = await withAdmin(kafka, async (admin) => {
    const statuses = await topicStates(admin, plan.roles);
    const missing = statuses.filter((status) => status.state === 'missing').map((status) => status.role);
    const failures = plan.create && missing.length > 0 ? await createMissing(admin, plan, missing, logger) : undefined;
    const found: TopicError[] = [];
    for (const status of statuses) {
      const created = status.state === 'missing' && failures !== undefined && !failures.has(status.role.topic);
      if (status.state !== 'ok' && !created) found.push(startProblem(plan, status, failures?.get(status.role.topic)));
    }
    return found;
  });
  if (problems.length > 0) throw new ConfigErrors(problems, HEADING);
}

/** What a run-time Kafka error says about the topics, and whether acknowledged work may still be committed. */
export interface LostTopics {
  /** One per topic gone or refused; empty when the error is about none. */
  readonly errors: readonly TopicLostError[];
  /** Only output topics are lost: the input and its offsets are there, and what was acknowledged stays so. */
  readonly commitAcknowledged: boolean;
}

function lostMessage(plan: TopicPlan, role: TopicRole, problem: TopicProblem, outcome: string): string {
  if (problem === 'missing') {
    return (
      `topic ${quote(role.topic)} no longer exists (deleted while geowindow was running?): ${outcome}; ` +
      `recreate it (${createFix(plan, role.topic)}) and start geowindow again`
    );
  }
  return (
    `topic ${quote(role.topic)} refuses the configured credentials (${TOPIC_NOT_AUTHORIZED}, ${principal(plan)}): ${outcome}; ` +
    `ask the Kafka admin to grant ${grants(plan, role)}, then start geowindow again`
  );
}

/**
 * After a Kafka error while running (a write that failed after the client's
 * retries, a consumer that gave up): the configured topics it is about, each
 * as a TopicLostError naming it, what the service does and the fix. The
 * broker is asked which topics are gone or hidden: kafkajs's errors do not
 * name the topic, and one request carries several. A topic that is visible
 * but refused a write is the failed record's topic (for the consumer, the
 * input). Empty when the error is not about a topic, or the broker shows
 * every topic again: the failure is then reported as it is.
 */
export async function lostTopics(kafka: Kafka, plan: TopicPlan, error: unknown): Promise<LostTopics> {
  const type = kafkaErrorType(error);
  if (type !== TOPIC_MISSING && type !== TOPIC_NOT_AUTHORIZED) return { errors: [], commitAcknowledged: false };
  const statuses = await withAdmin(kafka, (admin) => topicStates(admin, plan.roles));
  const lost: { role: TopicRole; problem: TopicProblem }[] = [];
  for (const { role, state } of statuses) if (state !== 'ok') lost.push({ role, problem: state });
  if (lost.length === 0 && type === TOPIC_NOT_AUTHORIZED) {
    const role = error instanceof ProduceError ? plan.roles.find((r) => r.topic === error.topic) : plan.roles.find((r) => r.use === 'read');
    if (role !== undefined) lost.push({ role, problem: 'not_authorized' });
  }
  // Without the input there is nothing to commit to; with it, acknowledged work stays acknowledged.
  const commitAcknowledged = lost.length > 0 && !lost.some(({ role }) => role.use === 'read');
  const outcome = commitAcknowledged
    ? 'committing what is acknowledged and stopping; the rest is read again after a restart'
    : 'stopping without committing';
  return {
    errors: lost.map(({ role, problem }) => new TopicLostError(role.variable, role.topic, problem, lostMessage(plan, role, problem, outcome))),
    commitAcknowledged,
  };
}
