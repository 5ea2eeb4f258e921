export * from "./webhook";
export * from "./client";
export {
  Asterisk,
  AsteriskQueue,
  CallRecord as CallRecordModel,
  initVoiceModels,
  type AsteriskStatus,
  type VoiceModels,
} from "./models";
