// Sequelize models of the tables bigchat-voice creates
// (bigchat-voice/migrations/postgres/*_voice.sql and later migrations).
// The daemon owns the schema: never `sync()` these models, run
// `bigchat-voice db migrate` instead.

import {
  DataTypes,
  Model,
  type CreationOptional,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from "sequelize";
import type { CallDirection, CallStatus } from "./client";

export type AsteriskStatus = "CONNECTED" | "DISCONNECTED" | "CONNECTING";

/** A PBX (table "Asterisks"). */
export class Asterisk extends Model<InferAttributes<Asterisk>, InferCreationAttributes<Asterisk>> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare status: CreationOptional<AsteriskStatus>;
  declare host: string;
  declare port: number;
  declare protocol: CreationOptional<string>;
  declare username: string;
  /** Always NULL: the AMI secret stays in the daemon's configuration. */
  declare password: CreationOptional<string | null>;
  declare greetingMessage: CreationOptional<string | null>;
  declare farewellMessage: CreationOptional<string | null>;
  declare transferQueueId: CreationOptional<number | null>;
  declare timeToTransfer: CreationOptional<number | null>;
  /** Its voice connection: the "Whatsapps" row (provider 'asterisk') its tickets name. */
  declare whatsappId: CreationOptional<number | null>;
  declare companyId: number;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** A PBX queue and the BigChat queue its calls belong to (table "AsteriskQueues"). */
export class AsteriskQueue extends Model<InferAttributes<AsteriskQueue>, InferCreationAttributes<AsteriskQueue>> {
  declare id: CreationOptional<number>;
  declare asteriskId: ForeignKey<Asterisk["id"]>;
  /** Its name in queues.conf. */
  declare queue: string;
  /** "Queues".id; NULL: known, not mapped. */
  declare queueId: CreationOptional<number | null>;
  declare companyId: number;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** One call (table "CallRecords"); `uniqueId` is the call's Linkedid. */
export class CallRecord extends Model<InferAttributes<CallRecord>, InferCreationAttributes<CallRecord>> {
  declare id: CreationOptional<number>;
  declare uniqueId: string;
  declare callerId: string;
  declare callerName: CreationOptional<string | null>;
  declare calledNumber: string;
  declare direction: CallDirection;
  declare status: CallStatus;
  /** Seconds. */
  declare duration: CreationOptional<number>;
  declare holdTime: CreationOptional<number>;
  declare talkTime: CreationOptional<number>;
  declare recordingUrl: CreationOptional<string | null>;
  declare recordingFile: CreationOptional<string | null>;
  declare startedAt: Date;
  declare answeredAt: CreationOptional<Date | null>;
  declare endedAt: CreationOptional<Date | null>;
  declare agentExtension: CreationOptional<string | null>;
  declare queue: CreationOptional<string | null>;
  /** Q.850 cause. */
  declare hangupCause: CreationOptional<number | null>;
  declare reconciled: CreationOptional<boolean>;
  declare ticketId: CreationOptional<number | null>;
  declare asteriskId: ForeignKey<Asterisk["id"]>;
  declare userId: CreationOptional<number | null>;
  declare contactId: CreationOptional<number | null>;
  declare companyId: number;
  /** The daemon's journal position of the last change (BIGINT: a string through node-postgres). */
  declare journalSeq: CreationOptional<string | null>;
  declare classification: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export interface VoiceModels {
  Asterisk: typeof Asterisk;
  AsteriskQueue: typeof AsteriskQueue;
  CallRecord: typeof CallRecord;
}

const text = (allowNull: boolean) => ({ type: DataTypes.TEXT, allowNull });
const int = (allowNull: boolean) => ({ type: DataTypes.INTEGER, allowNull });
const id = { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true };
const timestamps = {
  createdAt: { type: DataTypes.DATE, allowNull: false },
  updatedAt: { type: DataTypes.DATE, allowNull: false },
};

/**
 * Binds the three models to `sequelize` (once per process: a model class
 * belongs to one Sequelize instance) and sets their associations.
 */
export function initVoiceModels(sequelize: Sequelize): VoiceModels {
  Asterisk.init(
    {
      id,
      name: { ...text(false), unique: "Asterisks_companyId_name_key" },
      status: {
        type: DataTypes.TEXT,
        allowNull: false,
        defaultValue: "DISCONNECTED",
        validate: { isIn: [["CONNECTED", "DISCONNECTED", "CONNECTING"]] },
      },
      host: text(false),
      port: int(false),
      protocol: { type: DataTypes.TEXT, allowNull: false, defaultValue: "ami" },
      username: text(false),
      password: text(true),
      greetingMessage: text(true),
      farewellMessage: text(true),
      transferQueueId: int(true),
      timeToTransfer: int(true),
      whatsappId: int(true),
      companyId: { ...int(false), unique: "Asterisks_companyId_name_key" },
      ...timestamps,
    },
    { sequelize, tableName: "Asterisks", modelName: "Asterisk", timestamps: true },
  );

  AsteriskQueue.init(
    {
      id,
      asteriskId: { ...int(false), unique: "AsteriskQueues_asteriskId_queue_key" },
      queue: { ...text(false), unique: "AsteriskQueues_asteriskId_queue_key" },
      queueId: int(true),
      companyId: int(false),
      ...timestamps,
    },
    { sequelize, tableName: "AsteriskQueues", modelName: "AsteriskQueue", timestamps: true },
  );

  CallRecord.init(
    {
      id,
      uniqueId: { ...text(false), unique: "CallRecords_asteriskId_uniqueId_key" },
      callerId: text(false),
      callerName: text(true),
      calledNumber: text(false),
      direction: { type: DataTypes.TEXT, allowNull: false, validate: { isIn: [["inbound", "outbound", "internal"]] } },
      status: text(false),
      duration: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      holdTime: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      talkTime: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      recordingUrl: text(true),
      recordingFile: text(true),
      startedAt: { type: DataTypes.DATE, allowNull: false },
      answeredAt: { type: DataTypes.DATE, allowNull: true },
      endedAt: { type: DataTypes.DATE, allowNull: true },
      agentExtension: text(true),
      queue: text(true),
      hangupCause: int(true),
      reconciled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      ticketId: int(true),
      asteriskId: { ...int(false), unique: "CallRecords_asteriskId_uniqueId_key" },
      userId: int(true),
      contactId: int(true),
      companyId: int(false),
      journalSeq: { type: DataTypes.BIGINT, allowNull: true },
      classification: { type: DataTypes.TEXT, allowNull: true },
      ...timestamps,
    },
    { sequelize, tableName: "CallRecords", modelName: "CallRecord", timestamps: true },
  );

  Asterisk.hasMany(AsteriskQueue, { foreignKey: "asteriskId", as: "queues" });
  AsteriskQueue.belongsTo(Asterisk, { foreignKey: "asteriskId", as: "asterisk" });
  Asterisk.hasMany(CallRecord, { foreignKey: "asteriskId", as: "calls" });
  CallRecord.belongsTo(Asterisk, { foreignKey: "asteriskId", as: "asterisk" });

  return { Asterisk, AsteriskQueue, CallRecord };
}
