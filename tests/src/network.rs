pub struct Network;
