// Opcodes and identifiers by name (NVMe Base 2.0, NVM Command Set 1.0, NVMe over Fabrics 1.1).

export const AdminOpc = {
  DeleteIoSq: 0x00,
  CreateIoSq: 0x01,
  GetLogPage: 0x02,
  DeleteIoCq: 0x04,
  CreateIoCq: 0x05,
  Identify: 0x06,
  Abort: 0x08,
  SetFeatures: 0x09,
  GetFeatures: 0x0a,
  AsyncEventRequest: 0x0c,
  KeepAlive: 0x18,
  Fabrics: 0x7f,
} as const;

export const IoOpc = {
  Flush: 0x00,
  Write: 0x01,
  Read: 0x02,
  WriteZeroes: 0x08,
  DatasetManagement: 0x09,
  ReservationRegister: 0x0d,
  ReservationReport: 0x0e,
  ReservationAcquire: 0x11,
  ReservationRelease: 0x15,
  Fabrics: 0x7f,
} as const;

const IO_OPCODE_NAMES: Record<number, string> = {
  [IoOpc.Flush]: 'flush',
  [IoOpc.Write]: 'write',
  [IoOpc.Read]: 'read',
  [IoOpc.WriteZeroes]: 'write_zeroes',
  [IoOpc.DatasetManagement]: 'dataset_management',
  [IoOpc.ReservationRegister]: 'reservation_register',
  [IoOpc.ReservationReport]: 'reservation_report',
  [IoOpc.ReservationAcquire]: 'reservation_acquire',
  [IoOpc.ReservationRelease]: 'reservation_release',
};

/** An I/O opcode's name in metrics and logs (`read`, `write_zeroes`, ...; `0x7f` for one without a name). */
export function ioOpcodeName(opc: number): string {
  return IO_OPCODE_NAMES[opc] ?? `0x${opc.toString(16).padStart(2, '0')}`;
}

const ADMIN_OPCODE_NAMES: Record<number, string> = {
  [AdminOpc.GetLogPage]: 'get_log_page',
  [AdminOpc.Identify]: 'identify',
  [AdminOpc.Abort]: 'abort',
  [AdminOpc.SetFeatures]: 'set_features',
  [AdminOpc.GetFeatures]: 'get_features',
  [AdminOpc.AsyncEventRequest]: 'async_event_request',
  [AdminOpc.KeepAlive]: 'keep_alive',
};

/** An admin queue command's name in metrics (`keep_alive`, ...; a Fabrics command by its type: `property_get`). */
export function adminOpcodeName(opc: number, fctype: number): string {
  if (opc === AdminOpc.Fabrics) return FABRICS_TYPE_NAMES[fctype] ?? `fabrics_0x${fctype.toString(16).padStart(2, '0')}`;
  return ADMIN_OPCODE_NAMES[opc] ?? `0x${opc.toString(16).padStart(2, '0')}`;
}

export const FabricsType = {
  PropertySet: 0x00,
  Connect: 0x01,
  PropertyGet: 0x04,
  AuthSend: 0x05,
  AuthReceive: 0x06,
  Disconnect: 0x08,
} as const;

const FABRICS_TYPE_NAMES: Record<number, string> = {
  [FabricsType.PropertySet]: 'property_set',
  [FabricsType.Connect]: 'connect',
  [FabricsType.PropertyGet]: 'property_get',
  [FabricsType.AuthSend]: 'auth_send',
  [FabricsType.AuthReceive]: 'auth_receive',
  [FabricsType.Disconnect]: 'disconnect',
};

export const Cns = {
  Namespace: 0x00,
  Controller: 0x01,
  ActiveNsList: 0x02,
  NsDescriptorList: 0x03,
  CsiNamespace: 0x05,
  CsiController: 0x06,
  CsiActiveNsList: 0x07,
} as const;

export const LogId = {
  ErrorInfo: 0x01,
  Smart: 0x02,
  FirmwareSlot: 0x03,
  ChangedNsList: 0x04,
  CommandsEffects: 0x05,
  Ana: 0x0c,
  Discovery: 0x70,
  ReservationNotification: 0x80,
} as const;

export const FeatureId = {
  Arbitration: 0x01,
  PowerManagement: 0x02,
  TemperatureThreshold: 0x04,
  ErrorRecovery: 0x05,
  VolatileWriteCache: 0x06,
  NumberOfQueues: 0x07,
  InterruptCoalescing: 0x08,
  WriteAtomicity: 0x0a,
  AsyncEventConfig: 0x0b,
  KeepAliveTimer: 0x0f,
  HostIdentifier: 0x81,
  ReservationNotificationMask: 0x82,
  ReservationPersistence: 0x83,
} as const;

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';
